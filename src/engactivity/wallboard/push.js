// Event streams for the wallboard: fetch() with a stream reader, so the request carries the
// Authorization header like the page's polls (EventSource cannot send one), and the
// vendored eventsource-parser to read the Server-Sent Events. app.js uses it through
// window.wallboardPush; without it (an old browser, a blocked module) the page polls.
import { createParser } from "./vendor/eventsource-parser.js";

/**
 * Follow one question's stream: onAnswer(text) for every `answer` event (the first one is
 * the answer at the time of subscribing), then onEnd(error) once when the stream ends:
 * null for a clean end (the server's `end` event or its shutdown), else the error.
 * Returns a function that closes the stream (onEnd is then not called).
 */
function watch(url, headers, onAnswer, onEnd) {
  const controller = new AbortController();
  (async () => {
    const response = await fetch(url, {
      headers: { ...headers, Accept: "text/event-stream" },
      signal: controller.signal,
      cache: "no-store",
      credentials: "same-origin",
    });
    const type = response.headers.get("Content-Type") || "";
    if (!response.ok || !type.startsWith("text/event-stream") || !response.body) {
      throw new Error(`the stream was refused (${response.status})`);
    }
    const parser = createParser({
      onEvent(event) {
        if (event.event === "answer") onAnswer(event.data);
      },
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      parser.feed(value);
    }
  })().then(
    () => { if (!controller.signal.aborted) onEnd(null); },
    (error) => { if (!controller.signal.aborted) onEnd(error); },
  );
  return () => controller.abort();
}

window.wallboardPush = { watch };
