// "Open in Perfetto": the ui.perfetto.dev postMessage handshake. The page we open cannot
// fetch our trace itself (another origin), so we fetch it and hand over the bytes.
const PERFETTO_ORIGIN = "https://ui.perfetto.dev";
const PING_EVERY_MS = 100;
const GIVE_UP_MS = 30_000;

/** Must be called from a click handler, or the browser blocks the new window. */
export function openInPerfetto(traceUrl, { title, fileName }) {
  const perfetto = window.open(PERFETTO_ORIGIN);
  if (!perfetto) return Promise.reject(new Error("The browser blocked the Perfetto window."));
  return fetchTrace(traceUrl).then((buffer) => handOver(perfetto, buffer, { title, fileName }));
}

async function fetchTrace(traceUrl) {
  const response = await fetch(traceUrl);
  if (!response.ok) throw new Error(`Could not load the trace (HTTP ${response.status}).`);
  return response.arrayBuffer();
}

function handOver(perfetto, buffer, { title, fileName }) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const ping = setInterval(() => {
      if (perfetto.closed || Date.now() - started > GIVE_UP_MS) {
        finish();
        reject(new Error("Perfetto did not answer (is the network reachable?)."));
        return;
      }
      perfetto.postMessage("PING", PERFETTO_ORIGIN);
    }, PING_EVERY_MS);

    function onMessage(message) {
      if (message.source !== perfetto || message.data !== "PONG") return;
      finish();
      perfetto.postMessage({ perfetto: { buffer, title, fileName } }, PERFETTO_ORIGIN);
      resolve();
    }

    function finish() {
      clearInterval(ping);
      window.removeEventListener("message", onMessage);
    }

    window.addEventListener("message", onMessage);
  });
}
