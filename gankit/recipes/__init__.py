"""Training methods: each turns a batch into named losses (see recipes.base)."""
