"""The directory of departments, which the gateway owns: each department's entry, its OAuth
client, and the phr.directory.v1 events that tell the other services (docs/architecture.md,
"Layers"). Administrators change it through /admin/v1/departments (gateway/admin/api.py); the
portal reads it to offer the departments a patient may share with."""
