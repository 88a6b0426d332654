/**
 * SQL matching the low-water mark rows (`distributary:mark:<group>:<processorId>`, any group) of the
 * processor id in parameter `$n`, exactly: the group is what lies between the prefix and the first
 * colon after it, so a processor `orders` does not match the marks of `shop:orders`.
 */
export const marksOfProcessorSql = (column: string, parameter: string): string =>
  `(${column} LIKE 'distributary:mark:%' AND right(${column}, length(${parameter}) + 1) = ':' || ${parameter}
    AND position(':' IN substr(${column}, 19)) = length(${column}) - 18 - length(${parameter}))`;
