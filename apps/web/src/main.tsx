import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { applyUpdatesWhenHidden } from './app-updates';
import { App } from './ui/App';
import { deviceKnownLists, listPath, startListId } from './session/index.js';
import { captureEarlyTyping } from './ui/early-typing';

// "Ready to type" from the page's load on: keys typed before "Add item" exists are kept for it.
captureEarlyTyping(document);

// `/` lands on the last list opened here, or a brand-new one, without asking anything.
const start = startListId(location.pathname, deviceKnownLists().lastOpened());
if (start.redirect) history.replaceState(null, '', listPath(start.listId));

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  // The service worker precaches the app shell so a cold start in airplane mode works; a new
  // version is picked up as app-updates.ts says.
  applyUpdatesWhenHidden({ serviceWorker: navigator.serviceWorker, document, reload: () => location.reload() });
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((error: unknown) => {
      console.warn('[basket] service worker registration failed', error);
    });
  });
}
