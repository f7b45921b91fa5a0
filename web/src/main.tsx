import { lazy, StrictMode, Suspense, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { LocalApp } from './App';
import './styles.css';

/** What /web-config.json says about signing in. */
type WebConfig = { signIn: 'local-link'; codeMinutes?: number } | { signIn: 'clerk'; clerkPublishableKey: string };

// Clerk's code is a chunk of its own, fetched only when the engine uses Clerk.
const ClerkApp = lazy(() => import('./ClerkApp'));

function Loading() {
  return (
    <main id="main">
      <p className="meta" role="status">Loading…</p>
    </main>
  );
}

function Boot() {
  const [config, setConfig] = useState<WebConfig | 'unreachable' | null>(null);
  useEffect(() => {
    fetch('/web-config.json', { cache: 'no-store' })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
      .then(setConfig, () => setConfig('unreachable'));
  }, []);
  if (!config) return <Loading />;
  if (config !== 'unreachable' && config.signIn === 'clerk') {
    return (
      <Suspense fallback={<Loading />}>
        <ClerkApp publishableKey={config.clerkPublishableKey} />
      </Suspense>
    );
  }
  return <LocalApp unreachable={config === 'unreachable'} codeMinutes={config === 'unreachable' ? undefined : config.codeMinutes} />;
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Boot />
  </StrictMode>,
);
