package compattest

// Pid is the server's process id (read its memory with internal/procstat).
func (s *Server) Pid() int { return s.proc.Cmd.Process.Pid }
