import { z } from "zod";

export const NAME_MAX_LENGTH = 64;

/** Key and endpoint names: 1–64 characters after trimming (counted as code points). */
export const nameSchema = z
  .string({ error: "Name is required." })
  .transform((value) => value.trim())
  .refine((value) => value.length > 0, "Name is required.")
  .refine((value) => [...value].length <= NAME_MAX_LENGTH, `Name must be at most ${NAME_MAX_LENGTH} characters.`);
