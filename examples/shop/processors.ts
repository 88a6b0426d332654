// What the demo's engine runs: the shop's projectors and its order-confirmation reactor.
export * from '../../projections/index.ts';
export { orderConfirmations } from './orderConfirmations.ts';
