package app

// envOf is a lookupEnv (os.LookupEnv's shape) over a map, for calling
// loadConfig and Main without touching the test's own environment.
func envOf(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}
