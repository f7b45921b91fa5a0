import { Component, lazy, StrictMode, Suspense, useEffect, useState, type ReactNode } from 'react';
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

/** A part of the page that throws (Clerk refusing its key, a bundle that failed to load) leaves words, not a blank page. */
class Failsafe extends Component<{ children: ReactNode }, { failed: boolean }> {
  state = { failed: false };
  static getDerivedStateFromError() {
    return { failed: true };
  }
  render() {
    if (!this.state.failed) return this.props.children;
    return (
      <main id="main">
        <section className="narrow">
          <h1>The page could not start</h1>
          <p className="notice error" role="alert">
            Part of this page could not be loaded or started. Reload the page; if it keeps happening, the engine's
            sign-in settings (CLERK_PUBLISHABLE_KEY) may be wrong, so tell whoever runs it.
          </p>
        </section>
      </main>
    );
  }
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
      <Failsafe>
        <Suspense fallback={<Loading />}>
          <ClerkApp publishableKey={config.clerkPublishableKey} />
        </Suspense>
      </Failsafe>
    );
  }
  return <LocalApp unreachable={config === 'unreachable'} codeMinutes={config === 'unreachable' ? undefined : config.codeMinutes} />;
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Boot />
  </StrictMode>,
);
