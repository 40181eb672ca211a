// The live event stream (GET /api/v1/events, Server-Sent Events) read with fetch(), so that
// the key travels in the Authorization header: EventSource cannot send headers.

const FIRST_RETRY_MS = 1000;
const LONGEST_RETRY_MS = 30000;

function parseFrame(frame) {
  let type = "message";
  const data = [];
  for (const line of frame.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") type = value;
    if (field === "data") data.push(value);
  }
  return data.length ? { type, data: JSON.parse(data.join("\n")) } : null;
}

async function readFrames(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += value.replaceAll("\r\n", "\n");
    let end;
    while ((end = buffered.indexOf("\n\n")) >= 0) {
      const event = parseFrame(buffered.slice(0, end));
      buffered = buffered.slice(end + 2);
      if (event) onEvent(event);
    }
  }
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Calls onState("live" | "reconnecting" | "unauthorized") and onEvent({type, data}).
// Returns a function that closes the stream for good.
export function connectEvents(key, { onEvent, onState }) {
  let stopped = false;
  let controller = null;

  async function run() {
    let retryMs = FIRST_RETRY_MS;
    while (!stopped) {
      controller = new AbortController();
      try {
        const response = await fetch("/api/v1/events", {
          headers: { Authorization: `Bearer ${key}`, Accept: "text/event-stream" },
          cache: "no-store",
          signal: controller.signal,
        });
        if (response.status === 401) {
          onState("unauthorized");
          return;
        }
        if (response.ok) {
          onState("live");
          retryMs = FIRST_RETRY_MS;
          await readFrames(response.body, onEvent);
        }
      } catch {
        // the network dropped or we closed it: retry below unless stopped
      }
      if (stopped) return;
      onState("reconnecting");
      await pause(retryMs);
      retryMs = Math.min(retryMs * 2, LONGEST_RETRY_MS);
    }
  }

  run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
