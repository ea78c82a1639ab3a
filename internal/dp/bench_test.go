package dp

import (
	"crypto/rand"
	"math/big"
	"testing"
)

func BenchmarkBernoulliExp(b *testing.B) {
	s := NewSampler(rand.Reader)
	g := big.NewRat(3, 7)
	for b.Loop() {
		if _, err := s.BernoulliExp(g); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLaplace(b *testing.B) {
	s := NewSampler(rand.Reader)
	scale := big.NewRat(10, 1)
	for b.Loop() {
		if _, err := s.Laplace(scale); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGaussian(b *testing.B) {
	s := NewSampler(rand.Reader)
	sigma2 := big.NewRat(100, 1)
	for b.Loop() {
		if _, err := s.Gaussian(sigma2); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLaplaceSeeded is the baseline without the cost of the kernel's
// random source.
func BenchmarkLaplaceSeeded(b *testing.B) {
	s := seeded(b, 1)
	scale := big.NewRat(10, 1)
	for b.Loop() {
		if _, err := s.Laplace(scale); err != nil {
			b.Fatal(err)
		}
	}
}
