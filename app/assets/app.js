// Progressive enhancement only: every page works without this file.
import { initAll } from "./govuk-frontend.min.js";

document.body.classList.add("js-enabled");
if ("noModule" in HTMLScriptElement.prototype) {
  document.body.classList.add("govuk-frontend-supported");
  initAll();
}

// An error answer to htmx is a fragment with its message (see app/core/errors.py): show it in
// place, where the person is looking, rather than nothing at all.
document.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  if (status >= 400 && event.detail.xhr.getResponseHeader("X-Error-Fragment") === "1") {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
