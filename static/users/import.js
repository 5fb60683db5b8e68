/* The users CSV import page (templates/users/sipuser_import.html), plain JS.
   - upload: counts the chosen file's lines and keeps a spinner turning while the preview is computed;
   - preview: the same while the import runs, when the page waits for it (small files);
   - running (a big file, checked or imported by a Celery task): polls the job's status as JSON and moves
     the progress bar, then opens the outcome page. */
(function () {
  "use strict";
  const fmt = (n) => Number(n).toLocaleString("en");

  function spinnerForm() {
    const form = document.querySelector("form[data-import-total], form[enctype='multipart/form-data']");
    const box = form && form.querySelector("[data-import-progress]");
    if (!box) return;
    const text = box.querySelector("[data-progress-text]");
    const spinner = box.querySelector(".spinner-border");
    let lines = null;
    const input = form.querySelector("input[type=file]");
    if (input) input.addEventListener("change", async () => {
      const file = input.files[0];
      lines = null;
      text.textContent = "";
      if (!file) return;
      const body = await file.text();
      lines = body.split(/\r\n|\r|\n/).filter((l) => l.trim() !== "").length - 1;  // minus the header
      text.textContent = `${fmt(Math.max(lines, 0))} line(s) in ${file.name}.`;
    });
    form.addEventListener("submit", () => {
      const total = form.dataset.importTotal;
      text.textContent = total !== undefined ? `Importing ${fmt(total)} user(s) in one transaction…`
        : `Checking ${lines === null ? "the file" : fmt(Math.max(lines, 0)) + " line(s)"} (nothing is written yet)…`;
      spinner.classList.remove("d-none");
      form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; });
    });
  }

  function progressBar() {
    const box = document.getElementById("import-running");
    if (!box) return;
    const bar = box.querySelector("[data-progress-bar]");
    const fill = bar.querySelector(".progress-bar");
    const text = box.querySelector("[data-progress-text]");
    const finished = () => { window.location.assign(box.dataset.resultUrl); };
    async function poll() {
      let job;
      try {
        const response = await fetch(box.dataset.statusUrl, {headers: {Accept: "application/json"},
                                                             credentials: "same-origin", cache: "no-store"});
        if (response.redirected || !response.ok) return finished();  // signed out, or refused: say it there
        job = await response.json();
      } catch (err) {
        text.textContent = "Waiting for the server…";
        return setTimeout(poll, 2000);
      }
      // done, failed, or none (its files expired): the outcome page says which
      if (job.state === "done" || job.state === "failed" || job.state === "none") return finished();
      const total = job.total || 0;
      const pct = total ? Math.min(100, Math.round(100 * job.done / total)) : 0;
      fill.style.width = `${pct}%`;
      bar.setAttribute("aria-valuenow", String(job.done));
      text.textContent = job.state === "queued" ? "Waiting for a worker…"
        : `${job.stage === "import" ? "Imported" : "Checked"} ${fmt(job.done)} of ${total ? fmt(total) : "?"} line(s) (${pct}%)`;
      setTimeout(poll, 1000);
    }
    poll();
  }

  spinnerForm();
  progressBar();
})();
