// eo-fusion's build settings for STAC Browser: browse/build.sh makes this file the build's
// config.js, and STAC Browser's own config.js (its defaults) stac-browser.config.js.
// Only what differs from STAC Browser's defaults is set here; `fusion browse` adds the
// catalog's URL at run time (the /config.js it serves sets window.STAC_BROWSER_CONFIG).
const config = require('./stac-browser.config.js');

module.exports = Object.assign(config, {
  catalogTitle: "eo-fusion products",
  // Set at run time by `fusion browse`, which knows its host and port.
  catalogUrl: null,
  // Only the served catalog: no other STAC catalog or API through /external/.
  allowExternalAccess: false,
  // Hash routes (/#/path/of/item.json): the server needs no URL rewriting, and no Item path
  // can collide with STAC Browser's own files.
  historyMode: "hash",
  pathPrefix: "/",
  // The products' COGs are shown through their thumbnails (PNG, placed on the Item's bbox),
  // not decoded in the browser: geotiff.js cannot read their ZSTD compression.
  displayOverview: false,
  displayGeoTiffByDefault: false,
  displayPreview: true,
  // English only: no locale guessed from the browser, none kept between runs.
  detectLocaleFromBrowser: false,
  storeLocale: false,
  supportedLocales: ["en"],
  socialSharing: []
});
