// Constructors shared by the jsonnet apps (spec.source.jsonnet.libs: [jsonnet/lib]).
{
  deployment(name, image, replicas):: {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: name, labels: { app: name } },
    spec: {
      replicas: replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: name, image: image, ports: [{ name: 'http', containerPort: 8080 }] }] },
      },
    },
  },
  service(name, port):: {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: name },
    spec: { selector: { app: name }, ports: [{ name: 'http', port: port, targetPort: 'http' }] },
  },
}
