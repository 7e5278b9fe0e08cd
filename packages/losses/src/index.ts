// Filled in by the losses work; kept non-empty so the package builds.
export {};
