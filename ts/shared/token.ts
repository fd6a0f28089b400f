/**
 * The optional shared secret of a cluster: when the coordinator has one, generators
 * and API clients must present it. Every program reads it from this variable.
 */
export const TOKEN_ENV = 'STRESSGRID_TOKEN';
