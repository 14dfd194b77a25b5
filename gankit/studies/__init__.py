"""Studies: small experiments that reproduce a figure or a claim of the source documents."""
