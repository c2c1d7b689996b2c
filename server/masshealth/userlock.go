package masshealth

import "sync"

// userLocks serialises the check-and-store of one user's verification
// images, so that concurrent uploads cannot together pass the per-user
// limit that each checked alone. Uploads for different users do not wait
// for each other; an idle user holds no entry.
type userLocks struct {
	mu    sync.Mutex
	users map[string]*userLock
}

type userLock struct {
	sync.Mutex
	refs int
}

// lock takes user's lock and returns its release.
func (l *userLocks) lock(user string) func() {
	l.mu.Lock()
	if l.users == nil {
		l.users = map[string]*userLock{}
	}
	u := l.users[user]
	if u == nil {
		u = &userLock{}
		l.users[user] = u
	}
	u.refs++
	l.mu.Unlock()
	u.Lock()
	return func() {
		u.Unlock()
		l.mu.Lock()
		if u.refs--; u.refs == 0 {
			delete(l.users, user)
		}
		l.mu.Unlock()
	}
}
