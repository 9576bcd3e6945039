import { Button } from "./button";

/**
 * The end of a dialog's form: the action's refusal when no field shows it, `Cancel`, and the
 * submit button, which says what is happening while the action runs.
 */
export function FormFooter({
  error,
  onCancel,
  pending,
  label,
  pendingLabel,
}: {
  error?: string;
  onCancel: () => void;
  pending: boolean;
  label: string;
  pendingLabel: string;
}) {
  return (
    <>
      {error ? (
        <p role="alert" className="text-sm text-red-600">
          {error}
        </p>
      ) : null}
      <div className="flex justify-end gap-2">
        <Button variant="secondary" onClick={onCancel}>
          Cancel
        </Button>
        <Button type="submit" disabled={pending}>
          {pending ? pendingLabel : label}
        </Button>
      </div>
    </>
  );
}
