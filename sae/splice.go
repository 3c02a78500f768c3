package sae

import (
	"errors"
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // graph code reads best unqualified

	"github.com/interp-dev/interp/hooks"
)

// Splice adds to set a hook that replaces the activation at the SAE's site with its
// reconstruction Decode(Encode(x)); withError adds the reconstruction error back, held constant
// for gradients (SAELens use_error_term): the forward values are those of the plain model, but
// the SAE's latents sit in the graph. The SAE's tensors are fed as inputs, so one compiled graph
// serves any SAE of the same configuration. Several SAEs at different sites may be spliced into
// one set; a later site then sees the reconstructions of earlier ones.
func Splice(set *hooks.Set, s *SAE, withError bool) error {
	c := s.Config
	if c.TargetSite() != c.Site || c.Skip {
		return errors.New("sae: splice: a transcoder reads one hook and writes another; splice it with the transcoder package")
	}
	key := fmt.Sprintf("sae/%s/%s/k%d/bdec%v/norm%s/err%v", c.Arch, c.Site, c.K, c.ApplyBDecToInput, c.RuntimeNorm, withError)
	set.Func(c.Site.Hook, key, func(x *Node, in []*Node) *Node {
		p := NodesFrom(c, in)
		rows, back := SiteRowsGraph(c.Site, x) // [N, DIn]
		recon := DecodeGraph(c, p, EncodeGraph(c, p, rows), rows)
		if withError {
			recon = Add(recon, StopGradient(Sub(rows, recon)))
		}
		return back(recon)
	}, s.paramList()...)
	return nil
}

// ZeroSite adds to set a hook that zero-ablates the site's part of its hook (the whole
// activation, or one head): the baseline of the CE loss score.
func ZeroSite(set *hooks.Set, site Site) {
	set.Func(site.Hook, "sae-zero/"+site.String(), func(x *Node, _ []*Node) *Node { return zeroSiteGraph(site, x) })
}
