package store

// OutOfMemory exposes outOfMemory to the package's external tests.
var OutOfMemory = outOfMemory
