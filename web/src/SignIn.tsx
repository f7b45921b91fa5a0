import { useEffect, useState } from 'react';

interface WebConfig {
  signIn: 'local-link' | 'clerk';
  clerkPublishableKey?: string;
  codeMinutes?: number;
}

export function SignIn({ expired }: { expired: boolean }) {
  const [config, setConfig] = useState<WebConfig | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    fetch('/web-config.json', { cache: 'no-store' })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
      .then(setConfig, () => setFailed(true));
  }, []);
  return (
    <section className="narrow">
      <h1 tabIndex={-1}>Sign in</h1>
      {expired && (
        <p className="notice warn" role="alert">
          Your session ended. Sign in again to carry on; your books are safe.
        </p>
      )}
      {failed && (
        <p className="notice error" role="alert">
          The engine could not be reached. Check that it is running (npm start), then reload this page.
        </p>
      )}
      {config?.signIn === 'clerk' ? (
        <div className="card">
          <p>
            <strong>This engine signs people in with Clerk.</strong>
          </p>
          {/* Clerk's own components load from Clerk's servers; this build does not include them yet. */}
          <p className="placeholder" data-testid="clerk-placeholder">
            Placeholder: Clerk's sign-in form will appear here. Until then, sign in through your Clerk account
            page and use the session it gives you.
          </p>
        </div>
      ) : (
        <div className="card">
          <p>This engine runs on your computer, so signing in works like a notebook server:</p>
          <ol>
            <li>
              Find the sign-in link in the terminal where you ran <code>npm start</code>.
            </li>
            <li>Open it in this browser, on the same computer.</li>
          </ol>
          <p className="hint">
            Each link works once and for {config?.codeMinutes ?? 10} minutes. If yours has expired, restart the engine
            or ask whoever runs it for a new link.
          </p>
        </div>
      )}
    </section>
  );
}
