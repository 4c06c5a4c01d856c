// Shadowed: lib/ is listed last in the libs, so it is searched first.
error 'vendor/k/k.libsonnet must not be imported'
