/** The local default's sign-in page: the link comes from the terminal that runs the engine. */
export function SignIn({ expired, unreachable, codeMinutes }: { expired: boolean; unreachable?: boolean; codeMinutes?: number }) {
  return (
    <section className="narrow">
      <h1 tabIndex={-1}>Sign in</h1>
      {expired && (
        <p className="notice warn" role="alert">
          Your session ended. Sign in again to carry on; your books are safe.
        </p>
      )}
      {unreachable && (
        <p className="notice error" role="alert">
          The engine could not be reached. Check that it is running (npm start), then reload this page.
        </p>
      )}
      <div className="card" data-testid="local-sign-in">
        <p>This engine runs on your computer, so signing in works like a notebook server:</p>
        <ol>
          <li>
            Find the sign-in link in the terminal where you ran <code>npm start</code>.
          </li>
          <li>Open it in this browser, on the same computer.</li>
        </ol>
        <p className="hint">
          Each link works once and for {codeMinutes ?? 10} minutes. If yours has expired, restart the engine or ask
          whoever runs it for a new link.
        </p>
      </div>
    </section>
  );
}
