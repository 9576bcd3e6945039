// Test-only: one raw HTTP/1.1 exchange, byte for byte as a client sends it (repeated headers,
// malformed paths), which fetch() and other clients would tidy up first.
import { connect } from "node:net";

/** Sends `text` on a fresh connection to 127.0.0.1:`port` and resolves with everything read back. */
export function rawExchange(port: number, text: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.end(text));
    let data = "";
    socket.on("data", (chunk) => (data += chunk.toString()));
    socket.on("end", () => resolve(data));
    socket.on("error", reject);
  });
}
