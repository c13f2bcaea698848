package audit

// links puts a value in a fifo without allocating: the value embeds them.
type links[E any] struct {
	prev, next *E
}

// linked is a pointer to a value that embeds links.
type linked[E any] interface {
	*E
	link() *links[E]
}

// fifo is an intrusive doubly linked list kept in time order: values are
// pushed at the back when they are touched, so the front is always the
// one that expires first and expiry costs only what expires (the way
// Zeek's and Suricata's flow managers keep one list per timeout).
type fifo[E any, P linked[E]] struct {
	head, tail *E
	n          int
}

func (q *fifo[E, P]) front() *E { return q.head }

// push adds e at the back; e must be in no list (its owner knows which
// list it is in).
func (q *fifo[E, P]) push(e *E) {
	l := P(e).link()
	l.prev, l.next = q.tail, nil
	if q.tail != nil {
		P(q.tail).link().next = e
	} else {
		q.head = e
	}
	q.tail = e
	q.n++
}

// remove takes e out of q.
func (q *fifo[E, P]) remove(e *E) {
	l := P(e).link()
	if l.prev != nil {
		P(l.prev).link().next = l.next
	} else {
		q.head = l.next
	}
	if l.next != nil {
		P(l.next).link().prev = l.prev
	} else {
		q.tail = l.prev
	}
	l.prev, l.next = nil, nil
	q.n--
}

// toBack moves e, which is in q, to the back.
func (q *fifo[E, P]) toBack(e *E) {
	if q.tail == e {
		return
	}
	q.remove(e)
	q.push(e)
}
