package policy

import (
	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

var nodeName = (&pg.Node{}).ProtoReflect().Descriptor().FullName()

// replaceNodes walks every node below n (not n itself) and replaces each
// for which f returns a node; a replaced subtree is not descended into.
// Walking the protobuf reflection instead of a switch over node types
// means a construct the policy has never seen is still visited.
func replaceNodes(n proto.Message, f func(*pg.Node) *pg.Node) {
	if n == nil {
		return
	}
	m := n.ProtoReflect()
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				el := l.Get(i).Message()
				if el.Descriptor().FullName() == nodeName {
					if r := f(el.Interface().(*pg.Node)); r != nil {
						l.Set(i, protoreflect.ValueOfMessage(r.ProtoReflect()))
						continue
					}
				}
				replaceNodes(el.Interface(), f)
			}
			return true
		}
		if fd.IsMap() {
			return true
		}
		sub := v.Message()
		if sub.Descriptor().FullName() == nodeName {
			if r := f(sub.Interface().(*pg.Node)); r != nil {
				m.Set(fd, protoreflect.ValueOfMessage(r.ProtoReflect()))
				return true
			}
		}
		replaceNodes(sub.Interface(), f)
		return true
	})
}

// visitNodes calls f on every node below n; f returns false to skip a
// node's subtree.
func visitNodes(n proto.Message, f func(*pg.Node) bool) {
	replaceNodes(n, func(x *pg.Node) *pg.Node {
		if f(x) {
			visitNodes(x, f)
		}
		return x // returning the node itself stops the walker's own descent
	})
}

// cloneNode deep-copies a node, so a rewrite can change one copy.
func cloneNode(n *pg.Node) *pg.Node {
	if n == nil {
		return nil
	}
	return proto.Clone(n).(*pg.Node)
}
