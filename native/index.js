'use strict';
// Loads the compiled addon (built by `node-gyp rebuild` at install time).
module.exports = require('./build/Release/metaprune_native.node');
