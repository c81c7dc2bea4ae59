// Where <model-viewer> finds its decoders. Runs as a classic script before the
// model-viewer module loads, so no decoder is ever fetched from a CDN.
// The locations come from data attributes rendered with Django's {% static %}.
(function () {
  "use strict";
  var script = document.currentScript;
  var config = self.ModelViewerElement || {};
  config.dracoDecoderLocation = script.dataset.draco;
  config.ktx2TranscoderLocation = script.dataset.ktx2;
  // model-viewer 4.4 injects this URL as a classic <script> and then uses the
  // MeshoptDecoder it bundles; it must not be an ES module file.
  config.meshoptDecoderLocation = script.dataset.meshopt;
  self.ModelViewerElement = config;
})();
