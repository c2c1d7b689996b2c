module vizor

go 1.26
