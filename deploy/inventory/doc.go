// Package inventory keeps what the cluster knows about an app's syncs, in
// two ConfigMaps of the app's inventory namespace:
//
//   - ferry-inventory-NAME (Inventory): every object Ferry applied for the
//     app and has not pruned, one [apiVersion, kind, namespace, name] row
//     per line in apply order. Pruning deletes only objects found here, so
//     nothing Ferry did not create is ever deleted. About 15,000 objects
//     fit one ConfigMap.
//   - ferry-app-NAME (State): the last syncs (Record, newest first, each
//     with its result, the reason of a failure and the objects that were
//     not unchanged, at most 100 of them), the distinct revisions that
//     synced (rollback targets), and the rollback pin.
//
// Both carry the labels app.kubernetes.io/managed-by=ferry and
// ferry.dev/owner-app=NAME (not ferry.dev/app: they are not part of the
// app). Writes are read-modify-write with the resourceVersion as
// precondition, retried on conflicts, so concurrent writers never lose an
// update.
package inventory
