package fbout

// LogPrefix is the fblog.Logger prefix of the output instance named name,
// e.g. "output:nsgflow:nsgflow.0".
func LogPrefix(name string) string { return "output:nsgflow:" + name }
