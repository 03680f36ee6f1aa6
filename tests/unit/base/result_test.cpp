#include "base/result.hpp"
#include "base/static_vec.hpp"
#include <gtest/gtest.h>

static Result<int> half(int v) {
    if (v % 2) return Error::InvalidArgument;
    return v / 2;
}
static Result<int> quarter(int v) {
    int h = TRY(half(v));
    return TRY(half(h));
}

TEST(Result, TryPropagatesErrors) {
    EXPECT_EQ(quarter(8).value(), 2);
    EXPECT_TRUE(quarter(6).is_error());
    EXPECT_EQ(quarter(6).error(), Error::InvalidArgument);
}

TEST(StaticVec, CapacityIsEnforced) {
    StaticVec<int, 2> v;
    EXPECT_TRUE(v.push_back(1).is_ok());
    EXPECT_TRUE(v.push_back(2).is_ok());
    EXPECT_EQ(v.push_back(3).error(), Error::NoMemory);
    EXPECT_EQ(v.size(), 2u);
    int sum = 0;
    for (int x : v) sum += x;
    EXPECT_EQ(sum, 3);
}
