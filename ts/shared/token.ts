/**
 * The optional shared secret of a cluster: when the coordinator has one, generators
 * and API clients must present it. Every program reads it from this variable.
 */
import { SETTINGS } from './settings.js';

export const TOKEN_ENV = SETTINGS.token.env;
