// The upload page: Uppy's Dashboard sending files over tus to /api/uploads/.
// Bundled by esbuild at install time (see the Makefile) into build/static/uploads/;
// everything it needs comes from data attributes on #uploader: no inline script (CSP).
import Uppy from "@uppy/core";
import Dashboard from "@uppy/dashboard";
import Tus from "@uppy/tus";
import uk_UA from "@uppy/locales/lib/uk_UA.js";
import "@uppy/core/css/style.min.css";
import "@uppy/dashboard/css/style.min.css";

const root = document.getElementById("uploader");

// Uppy's own words follow the page's language (Django's active language, in
// data-locale); English is Uppy's default. Only the languages the site offers
// are bundled.
const LOCALES = { uk: uk_UA };

if (root) {
  const data = root.dataset;
  const results = document.getElementById("upload-results");
  const maxFileSize = Number(data.maxFileBytes) || null;

  const locale = LOCALES[(data.locale || "").split("-")[0].toLowerCase()];

  const uppy = new Uppy({
    autoProceed: false,
    ...(locale ? { locale } : {}),
    restrictions: { maxFileSize },
    // Every file carries both, as strings: tus would send an unset one as "undefined".
    meta: { title: "", record: data.record || "" },
  });

  uppy.use(Dashboard, {
    inline: true,
    target: root,
    width: "100%",
    height: 420,
    proudlyDisplayPoweredByUppy: false,
    showProgressDetails: true,
    note: data.note || null,
    metaFields: [{ id: "title", name: data.titleLabel || "Title", placeholder: data.titleHint || "" }],
  });

  uppy.use(Tus, {
    endpoint: data.endpoint,
    chunkSize: Number(data.chunkBytes) || 5 * 1024 * 1024,
    // Phones on mobile networks drop: keep retrying, then resume from the server's offset.
    retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000],
    headers: { "X-CSRFToken": data.csrfToken },
    allowedMetaFields: ["name", "type", "title", "record"], // name, type: sent as filename, filetype too
    storeFingerprintForResuming: true, // a reload resumes from localStorage
    removeFingerprintOnSuccess: true,
  });

  // The last byte's answer comes before the file is filed (a background job
  // copies it into storage): ask for the upload's state until it is settled.
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  async function filed(url) {
    let status = {};
    for (let attempt = 0; attempt < 600; attempt += 1) {
      status = await fetch(url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      }).then((r) => r.json());
      if (status.state !== "complete" && status.state !== "uploading") return status;
      await sleep(Math.min(250 * 2 ** attempt, 3000));
    }
    return status;
  }

  const link = (href, text) => {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  };

  uppy.on("upload-success", async (file, response) => {
    const item = document.createElement("li");
    item.dataset.uploadResult = "pending";
    item.textContent = `${file.name}: ${data.filingLabel || "filing…"}`;
    results?.append(item);
    try {
      const status = await filed(response.uploadURL);
      item.textContent = "";
      if (status.record && status.capture) {
        const record = encodeURIComponent(status.record);
        item.append(link(`/records/${record}/`, `${file.name}: ${data.doneLabel || "uploaded"}`));
        item.append(" · ");
        const capture = encodeURIComponent(status.capture);
        item.append(link(`/records/${record}/captures/${capture}/`, data.describeLabel || "describe it"));
      } else if (status.error) {
        item.textContent = `${file.name}: ${data.failedLabel || "could not be filed"}: ${status.error.message}`;
      } else {
        item.textContent = `${file.name}: ${data.unknownLabel || status.state}`;
      }
      item.dataset.uploadResult = status.capture ? "done" : status.state;
      if (status.capture) item.dataset.capture = status.capture;
    } catch (err) {
      item.dataset.uploadResult = "unknown";
      item.textContent = `${file.name}: ${data.unknownLabel || String(err)}`;
    }
  });

  uppy.on("upload-error", (file, error) => {
    const item = document.createElement("li");
    item.dataset.uploadResult = "error";
    let message = error?.message || String(error);
    try {
      const body = JSON.parse(error?.originalResponse?.getBody() || "{}");
      if (body.error?.message) message = body.error.message;
    } catch (_) {
      // not our JSON: keep tus's message
    }
    item.textContent = `${file?.name || ""}: ${message}`;
    results?.append(item);
  });

  window.spadokUppy = uppy; // for the browser tests and the curious
}
