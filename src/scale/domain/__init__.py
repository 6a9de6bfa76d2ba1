"""Plain data and rules: resources, states, the error catalogue, Seed manifests. No framework imports."""
