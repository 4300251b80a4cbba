package usagereport

// vectorRecord1 is the spec's chain-hash example.
const vectorRecord1 = "edbe0363f8a4d5e079fa05f2f44c7534cb55abe6ddcecdd4067641f46132b602"
