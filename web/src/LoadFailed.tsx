/** A page that could not be loaded: what went wrong in words, and a way to try again. */
export function LoadFailed({ message }: { message: string }) {
  return (
    <section className="narrow">
      <h1 tabIndex={-1}>The book could not be loaded</h1>
      <p className="notice error" role="alert">{message}</p>
      <button type="button" className="button" onClick={() => window.location.reload()}>
        Try again
      </button>
    </section>
  );
}
