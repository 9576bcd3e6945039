import type { InputHTMLAttributes, ReactNode, SelectHTMLAttributes } from "react";

const CONTROL_CLASS = "rounded-md border border-zinc-300 bg-white px-3 py-2 text-sm shadow-xs focus:border-indigo-500 aria-invalid:border-red-500";

/**
 * The label above a form control and its inline error below, wired up for screen readers:
 * `control` gets the attributes that tie it to both.
 */
function Labelled({ id, label, error, control }: { id: string; label: string; error?: string; control: (aria: Record<string, string | boolean | undefined>) => ReactNode }) {
  const errorId = `${id}-error`;
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={id} className="text-sm font-medium text-zinc-800">
        {label}
      </label>
      {control({ id, "aria-invalid": error ? true : undefined, "aria-describedby": error ? errorId : undefined })}
      {error ? (
        <p id={errorId} role="alert" className="text-sm text-red-600">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** A labelled text input with an optional inline error. */
export function Field({ label, error, id, className = "", ...props }: InputHTMLAttributes<HTMLInputElement> & { label: string; id: string; error?: string }) {
  return <Labelled id={id} label={label} error={error} control={(aria) => <input {...aria} className={`${CONTROL_CLASS} ${className}`} {...props} />} />;
}

/** A labelled native select with an optional inline error: native, so phones show their own picker. */
export function SelectField({
  label,
  error,
  id,
  className = "",
  children,
  ...props
}: SelectHTMLAttributes<HTMLSelectElement> & { label: string; id: string; error?: string }) {
  return (
    <Labelled
      id={id}
      label={label}
      error={error}
      control={(aria) => (
        <select {...aria} className={`${CONTROL_CLASS} ${className}`} {...props}>
          {children}
        </select>
      )}
    />
  );
}
