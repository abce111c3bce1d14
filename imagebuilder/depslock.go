package imagebuilder

import "sync"

// depsLocks keeps one lock per dependencies image tag, for the builds and removals of one
// Builder: builds of several deployments that need the same missing dependencies image build
// it once (the others wait, then find it built), and the builder never removes a dependencies
// image while one of its builds uses it. Builders of other nodes are not held back, and need not
// be: their dependencies images are tags of their own (see depsTag). Should one go meanwhile all
// the same (removed by hand), the build adds the code by a build step instead, building the
// dependencies image again (see Builder.build).
type depsLocks struct {
	mu sync.Mutex
	m  map[string]*depsLock
}

// depsLock is the lock of one tag.
type depsLock struct {
	refs  int          // holders and waiters: the entry goes when the last one leaves
	inUse sync.RWMutex // read-held by each build on the tag; removal only try-locks it
	build sync.Mutex   // held while the image is looked up, and built when missing
}

// get returns tag's lock, counted as held until release is called.
func (l *depsLocks) get(tag string) (lk *depsLock, release func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*depsLock{}
	}
	lk = l.m[tag]
	if lk == nil {
		lk = &depsLock{}
		l.m[tag] = lk
	}
	lk.refs++
	return lk, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if lk.refs--; lk.refs == 0 {
			delete(l.m, tag)
		}
	}
}

// use marks tag as used by a build until the returned function is called: removeUnused leaves
// it meanwhile. A build calls it once (read locks do not nest when a removal tries meanwhile).
func (l *depsLocks) use(tag string) func() {
	lk, release := l.get(tag)
	lk.inUse.RLock()
	return func() {
		lk.inUse.RUnlock()
		release()
	}
}

// building serialises the look-up (and the build, when missing) of tag until the returned
// function is called.
func (l *depsLocks) building(tag string) func() {
	lk, release := l.get(tag)
	lk.build.Lock()
	return func() {
		lk.build.Unlock()
		release()
	}
}

// tryRemove reports whether no build uses tag, and if so keeps builds from starting to use it
// until the returned function is called. It never waits.
func (l *depsLocks) tryRemove(tag string) (func(), bool) {
	lk, release := l.get(tag)
	if !lk.inUse.TryLock() {
		release()
		return nil, false
	}
	return func() {
		lk.inUse.Unlock()
		release()
	}, true
}
