"""Model-free plumbing at the bottom of the project: errors, bulk writes, admin decision helpers
and the API's generic parts. Imports no app of this project."""
