// The guestbook, as a jsonnet program: its App gives the environment
// (an external variable) and the replica count (a top-level argument).
local app = import 'app.libsonnet';

function(replicas=1) {
  deployment: app.deployment('guestbook', 'ghcr.io/acme/guestbook:1.0.0', replicas),
  service: app.service('guestbook', 80),
  config: {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'guestbook-config' },
    data: { environment: std.extVar('environment') },
  },
}
