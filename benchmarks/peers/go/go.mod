module otpp/benchmarks/peers/go

go 1.19
