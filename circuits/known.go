package circuits

import (
	"fmt"
	"sort"
	"strings"
)

// GPT2SmallIOI is the IOI circuit of GPT-2 small found by Wang et al. (2022), 26 heads: name
// movers 9.9, 10.0, 9.6; backup name movers 10.10, 10.6, 10.2, 10.1, 11.2, 9.7, 9.0, 11.9;
// negative name movers 10.7, 11.10; S-inhibition 7.3, 7.9, 8.6, 8.10; induction 5.5, 5.8, 5.9,
// 6.9; duplicate token 0.1, 0.10, 3.0; previous token 2.2, 4.11. Node level only.
func GPT2SmallIOI() Circuit {
	var c Circuit
	for _, s := range strings.Fields("9.9 10.0 9.6 10.10 10.6 10.2 10.1 11.2 9.7 9.0 11.9 10.7 11.10 " +
		"7.3 7.9 8.6 8.10 5.5 5.8 5.9 6.9 0.1 0.10 3.0 2.2 4.11") {
		n, err := ParseNode(s)
		if err != nil {
			panic(err)
		}
		c.Nodes = append(c.Nodes, n)
	}
	sortNodes(c.Nodes)
	return c
}

// knownCircuits are the ground truths available by name (besides the planted models').
var knownCircuits = map[string]func() Circuit{"gpt2-small-ioi": GPT2SmallIOI}

// KnownCircuit returns a ground-truth circuit by name: "gpt2-small-ioi" or a planted model's
// name.
func KnownCircuit(name string) (Circuit, error) {
	if f, ok := knownCircuits[name]; ok {
		return f(), nil
	}
	if p, ok := LookupPlanted(name); ok {
		return p.Circuit, nil
	}
	var names []string
	for n := range knownCircuits {
		names = append(names, n)
	}
	for _, p := range planted {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return Circuit{}, fmt.Errorf("circuits: no known circuit %q (known: %s)", name, strings.Join(names, ", "))
}
