"""Model-free plumbing at the bottom of the project: errors, bulk writes, admin decision helpers,
migration operations, and the API's generic parts. Imports no app of this project."""
