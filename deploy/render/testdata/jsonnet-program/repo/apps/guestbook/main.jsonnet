local k = import 'k/k.libsonnet';
local params = import 'params.libsonnet';

function(replicas=1, tier='web') {
  // An object of objects: each value is a manifest.
  deployment: k.deployment('guestbook-' + tier, std.extVar('image'), replicas),
  service: k.service('guestbook-' + tier, params.port),
  extra: [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'guestbook-env' },
      data: { env: std.extVar('env'), debug: std.toString(std.extVar('debug')) },
    },
  ],
}
