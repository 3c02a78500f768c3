package model

import "fmt"

// QK returns head h of layer l's QK circuit W_Q[h] W_K[h]^T [D, D] (row-major): the bilinear
// form whose value on (query residual, key residual) is the pre-softmax score times sqrt(K).
// Under grouped-query attention W_K is that of the head's key/value head. With rotary embeddings
// the score also depends on the positions; this is the circuit at equal positions.
func (m *Model) QK(l, h int) ([]float32, error) {
	if err := m.checkHead(l, h); err != nil {
		return nil, err
	}
	c := m.Config
	D, K := c.DModel, c.DHead
	wq := m.Weights.Flat(blockName(l, "attn.W_Q"))[h*D*K : (h+1)*D*K] // [D, K]
	kv := c.KVHead(h)
	wk := m.Weights.Flat(blockName(l, "attn.W_K"))[kv*D*K : (kv+1)*D*K] // [D, K]
	out := make([]float32, D*D)
	for i := range D {
		for j := range D {
			var s float32
			for k := range K {
				s += wq[i*K+k] * wk[j*K+k]
			}
			out[i*D+j] = s
		}
	}
	return out, nil
}

// OV returns head h of layer l's OV circuit W_V[h] W_O[h] [D, D] (row-major): how the head maps
// a source residual vector to what it writes into the destination's residual stream (W_V of the
// head's key/value head under grouped-query attention).
func (m *Model) OV(l, h int) ([]float32, error) {
	if err := m.checkHead(l, h); err != nil {
		return nil, err
	}
	c := m.Config
	D, K := c.DModel, c.DHead
	kv := c.KVHead(h)
	wv := m.Weights.Flat(blockName(l, "attn.W_V"))[kv*D*K : (kv+1)*D*K] // [D, K]
	wo := m.Weights.Flat(blockName(l, "attn.W_O"))[h*K*D : (h+1)*K*D]   // [K, D]
	out := make([]float32, D*D)
	for i := range D {
		for k := range K {
			a := wv[i*K+k]
			for j := range D {
				out[i*D+j] += a * wo[k*D+j]
			}
		}
	}
	return out, nil
}

func (m *Model) checkHead(l, h int) error {
	if l < 0 || l >= m.Config.NLayers {
		return fmt.Errorf("model: layer %d out of range [0, %d)", l, m.Config.NLayers)
	}
	if h < 0 || h >= m.Config.NHeads {
		return fmt.Errorf("model: head %d out of range [0, %d) in layer %d", h, m.Config.NHeads, l)
	}
	return nil
}
