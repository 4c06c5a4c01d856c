// A second entry point: a List, flattened like any List.
{
  apiVersion: 'v1',
  kind: 'List',
  items: [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'guestbook' } },
  ],
}
