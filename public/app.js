// rawserve demo: a real ES module that checks the page's resources loaded.
// Served with a JavaScript MIME type, or the browser refuses to run it as a module.

export const moduleUrl = import.meta.url;

function setStatus(id, text, ok) {
  const el = document.getElementById(id);
  if (!el) return;
  el.textContent = text;
  el.classList.remove("ok", "fail");
  if (ok !== undefined) el.classList.add(ok ? "ok" : "fail");
}

export function checkModule() {
  document.documentElement.dataset.module = "loaded";
  setStatus("module-status", "module script: loaded", true);
}

export async function checkHello() {
  try {
    const res = await fetch("/hello");
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const text = (await res.text()).trim();
    setStatus("hello-status", `fetch /hello: ${text}`, true);
  } catch (err) {
    setStatus("hello-status", `fetch /hello: failed ${err}`, false);
  }
}

export function checkImage() {
  const img = document.getElementById("logo");
  if (!img) {
    setStatus("image-status", "image: failed (no #logo element)", false);
    return;
  }
  const report = () => {
    if (img.complete && img.naturalWidth > 0) {
      setStatus("image-status", `image: loaded ${img.naturalWidth}x${img.naturalHeight}`, true);
    } else {
      setStatus("image-status", "image: failed", false);
    }
  };
  if (img.complete) {
    report();
  } else {
    img.addEventListener("load", report, { once: true });
    img.addEventListener("error", report, { once: true });
  }
}

function stylesheetApplied() {
  return (
    getComputedStyle(document.documentElement).getPropertyValue("--rawserve-css").trim() ===
    "loaded"
  );
}

export function checkStylesheet() {
  if (stylesheetApplied()) {
    setStatus("css-status", "stylesheet: loaded", true);
    return;
  }
  // Not applied yet: give it until the window load event before reporting failure.
  const recheck = () => {
    if (stylesheetApplied()) {
      setStatus("css-status", "stylesheet: loaded", true);
    } else {
      setStatus("css-status", "stylesheet: failed", false);
    }
  };
  if (document.readyState === "complete") recheck();
  else window.addEventListener("load", recheck, { once: true });
}

function run() {
  checkModule();
  checkStylesheet();
  checkImage();
  checkHello();
}

// Module scripts are deferred, so the DOM is parsed by now; guard anyway.
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", run, { once: true });
} else {
  run();
}
