// Task queue dashboard (tools/demo/dashboard.py). The Retry buttons make a
// CSRF-protected POST: the proxy in front (authcore) accepts an unsafe
// method on a session only with the session's CSRF token in X-CSRF-Token,
// which the page reads from the JS-readable CSRF cookie the login set.
"use strict";

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return "";
}

const result = document.getElementById("result");

function show(text, failed) {
  result.textContent = text;
  result.className = failed ? "failed" : "done";
}

async function retry(button) {
  const id = button.dataset.id;
  const row = button.closest("tr");
  button.disabled = true;
  try {
    const r = await fetch(`/dash/api/tasks/${encodeURIComponent(id)}/retry`, {
      method: "POST",
      headers: { "X-CSRF-Token": cookie(document.body.dataset.csrfCookie), Accept: "application/json" },
      credentials: "same-origin",
    });
    let body = null;
    try { body = await r.json(); } catch { /* not JSON */ }
    if (!r.ok || !body || !body.ok) {
      show(`Retry of task #${id} refused: HTTP ${r.status}${body && body.error ? ` (${body.error})` : ""}`, true);
      return;
    }
    row.querySelector(".status").textContent = body.status;
    row.querySelector(".attempts").textContent = String(body.attempts);
    show(`Task #${body.id} ${body.name} queued for retry by ${body.by} (attempt ${body.attempts}).`, false);
  } catch (e) {
    show(`Retry of task #${id} failed: ${e.message}`, true);
  } finally {
    button.disabled = false;
  }
}

for (const b of document.querySelectorAll("button.retry")) {
  b.addEventListener("click", () => retry(b));
}
